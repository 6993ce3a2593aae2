"""One module per rules file: the run_<rule> entry points the workflow scripts call."""
