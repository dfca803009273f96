"""The `dsocr` command line: one module per subcommand, `main` dispatches."""
