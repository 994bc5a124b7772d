"""Upload ingestion, database-free: ``readers`` (CSV/XLSX streams), ``mapping`` (headers ->
fields) and ``validate`` (typed records and rejects). Import the submodules directly."""
