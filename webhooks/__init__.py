"""Flask app factory and thin blueprints for every webhook."""
