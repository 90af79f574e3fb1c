"""The browser view under /ui: pages rendered on the server, scripts served by reglab itself."""
