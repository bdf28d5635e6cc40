"""psybench: a benchmark harness for counselling language models on Psy-Insight."""
__version__ = "0.1.0"


def evaluate_module_path() -> str:
    """A path `evaluate.load()` accepts: psybench's generation metrics as an HF evaluate module."""
    from psybench.evaluate_module import evaluate_module_path as path

    return path()
