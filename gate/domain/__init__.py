"""Gate's domain: pure rules over plain values, standard library only."""
