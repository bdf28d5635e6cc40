"""psybench: a benchmark harness for counselling language models on Psy-Insight."""
__version__ = "0.1.0"
