"""The REST API, laid out like Django REST framework itself: views (thin), serializers, parsers, throttling,
exceptions (every error as JSON), authentication (the client cookie and correction token) and permissions."""
