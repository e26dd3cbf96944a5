"""The application edge: settings, wiring (runtime), bootstrap, shipped resources."""
