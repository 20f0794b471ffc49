"""The arrangement timeline: a bar ruler and the row of sections, with gestures to edit it."""
