"""One generation task per module: plan, render, decode."""
