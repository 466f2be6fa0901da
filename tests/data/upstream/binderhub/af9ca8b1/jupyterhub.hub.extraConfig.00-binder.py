# image & token are set via spawn options
from kubespawner import KubeSpawner

class BinderSpawner(BinderSpawnerMixin, KubeSpawner):
    pass

c.JupyterHub.spawner_class = BinderSpawner
