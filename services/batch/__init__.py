"""Batch scoring: a registered model over a CSV or Parquet file, in chunks, with row-level rejects.

Read in this order: `reader.py` (the input in chunks, with row numbers) -> `rows.py` (pure: a chunk
to a validated matrix and its rejects, by the model server's own rules) -> `output.py` (atomic files)
-> `score.py` (the loop, the reject ratio, progress) -> `push.py` (metrics to a Pushgateway) ->
`command.py` (a blueprint batch job as an `mlplat batch score` command line). docs/batch.md explains
the design and its trade-offs.
"""
