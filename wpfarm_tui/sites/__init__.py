"""The farm's sites: names, the registry on Galera, and where a site runs."""
