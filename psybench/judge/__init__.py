"""The rubric judge: scores replies on the paper's human-evaluation dimensions and checks its own validity."""
