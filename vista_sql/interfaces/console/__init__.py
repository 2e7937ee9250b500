"""`vista-sql serve`: a local web query console (editor, Run / Explain / Cancel, grid, chart)."""
