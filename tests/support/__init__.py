"""Test helpers shared by unit, integration and benchmark code (fakes of outside services)."""
