"""Workers: the transcription loop and the webhook dispatcher."""
