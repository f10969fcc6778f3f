"""Domain core: no cloud, web, database or model imports live here."""
