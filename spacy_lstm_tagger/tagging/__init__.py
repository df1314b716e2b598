"""Tagging corpora of any size: `local` (nlp.pipe in this process) and
`ray_engine` (a Ray cluster) share the input's reading and bad-line policy
(reading), the output formats (writing), the complete-or-partial output file
(output), signal handling (signals) and errors (errors). Ray is imported only
by ray_engine."""
