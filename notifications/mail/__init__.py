"""Mail, independent of the engine: values, rendering, MIME, headers, calendar parts, transports."""
