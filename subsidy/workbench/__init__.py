"""The staff home page's 工作台: what waits for each role (docs/design.md "People")."""
