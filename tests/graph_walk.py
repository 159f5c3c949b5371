"""A graph walk for tests, through the public surface only (`Tensor.grad_fn`, `Function.parents`)."""


def toposort(roots):
    """Every tensor reachable from `roots` through recorded ops, inputs before the ops that use them
    (iterative, so any depth works)."""
    order, visited = [], set()
    stack = [(root, False) for root in reversed(roots)]
    while stack:
        node, expanded = stack.pop()
        if expanded:  # all of node's inputs are in `order` already
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        fn = node.grad_fn
        if fn is None:
            continue
        for inp, needs in zip(fn.parents(), fn.needs_input_grad):
            if needs and id(inp) not in visited:
                stack.append((inp, False))
    return order
