"""ruhrflow: the workflow engine of the Ruhr-Konferenz."""
