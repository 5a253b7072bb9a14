"""The pages people use (templates/web/): one module per domain, over the same services as the API. pages.py holds
what every page shares (who is signed in, rendering, error pages); wording.py the pages' words."""
