"""The HTTP contract shared by both HTTP doors: the route table, error statuses, the OpenAPI document and
the job view. Infra and the local stack read the route table too."""
