"""Jobs' HTML routes: submit.py's (new job, cancel) before runs.py's (job pages,
experiments), so fixed segments win over a job name."""

from .views import lifecycle, pipelines, register, runs, submit

app_name = "jobs"

urlpatterns = [
    *submit.urlpatterns,
    *lifecycle.urlpatterns,
    *pipelines.urlpatterns,
    *register.urlpatterns,
    *runs.urlpatterns,
]
