"""The 360° patient view: header card, timeline and quick actions."""
