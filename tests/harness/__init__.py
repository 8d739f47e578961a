"""Integration-test harness for puljed (Python standard library only)."""
