"""The application edge: settings, wiring (runtime), bootstrap, shipped resources and the demo."""
