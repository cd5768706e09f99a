"""Out-of-process fakes of the venues, speaking their wire formats."""
