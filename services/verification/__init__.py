"""Verification: the staff side.

Owns staff accounts (role and desa), the letter routes, and the task inbox (a projection of
public application events). Staff decisions go to the approval workflow as Temporal Updates;
`DirectoryService` (gRPC) tells others who acts where.
"""
