"""One driver per cloud behind one interface (see ``base``)."""
