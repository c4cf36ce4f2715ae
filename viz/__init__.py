"""Draw a Value's computation graph (data, grad, local derivatives) as SVG or PNG."""
