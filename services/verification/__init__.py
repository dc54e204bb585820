"""Verification: the staff side.

Owns staff accounts (role and desa), the letter routes, the task inbox (a projection of
public application events) and the desa's population register (`population/`). Staff decisions
go to the approval workflow as Temporal Updates; `DirectoryService` (gRPC) tells others who acts
where, `PopulationService` what the register holds (docs/design.md).
"""
