"""Developer tools that are not part of the platform: the fake Twilio (tests, benchmarks, demos)
and the install scripts of the browser and load generator."""
