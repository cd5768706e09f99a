"""Manual control: operators' commands queued by the web and carried out by the engine's desk."""
