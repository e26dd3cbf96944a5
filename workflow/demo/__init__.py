"""``ruhrflow demo``: the Ruhr-Konferenz 2019 round end to end on the embedded default.

facts (the public calendar and counts, and what is illustrative), directory (what a run
writes where), clock (the simulated time and the scheduler between the steps), script (the
round, step by step), run (:func:`~workflow.demo.run.run_demo`, the summary).
"""
