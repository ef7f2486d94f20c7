"""CI at scale: sharding the pytest runs (``--shard I/N``) and merging the shards' JUnit
reports into one verdict (``vmfwupdate shards merge``)."""
