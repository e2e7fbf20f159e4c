"""Every exercise's checker, held to what a student plausibly writes: wrong answers and right ones."""
