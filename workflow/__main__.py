"""``python -m workflow`` runs the ruhrflow command (as the console script does)."""

from workflow.cli.main import main

main()
