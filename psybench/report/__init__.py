"""Results for people: leaderboard CSVs, the paper's Table 5 side by side, paired comparisons and the
HTML report. Everything here reads finished run directories (docs/ARCHITECTURE.md "A run directory")."""
from psybench.runfiles import RunDir, load_run

__all__ = ["RunDir", "load_run"]
