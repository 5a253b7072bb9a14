"""What every kind of statutory review shares, apart from any one of them: the definition of a review type and the
registry the worker, the case service and the pages are built from (docs/architecture.md, "A new review type").
Declarations only: no I/O, nothing a workflow sandbox would refuse."""
