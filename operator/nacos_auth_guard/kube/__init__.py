"""The Kubernetes side: the only code that imports kopf or the Kubernetes client."""
