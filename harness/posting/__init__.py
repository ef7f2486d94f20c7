"""The last step of an iteration: posting the series (``vmfwupdate send``) and drafting
its "Changes in vN" list (``vmfwupdate changelog``)."""
