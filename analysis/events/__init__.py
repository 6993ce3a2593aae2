"""Events in the Delphes layout: embedded generation (Pythia 8 + FastJet + a parametric
CMS-like response) and the one reader used for generated and real Delphes files."""
