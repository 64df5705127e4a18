"""The Campaigns area: campaigns, groups of patients, reactivation (and the tabs others add)."""
