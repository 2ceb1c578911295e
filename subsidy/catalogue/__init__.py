"""The city's subsidy catalogue (补贴目录): the types a county's project names, so that projects
of different counties can be compared (docs/design.md "Subsidy catalogue")."""
