"""`{% evaluate_results job as ev %}`: Evaluate Model's results for the job page's Results
panel (templates/designer/_evaluate_results.html); None for any other job."""

from django import template

from apps.designer.results import evaluate_results as _evaluate_results

register = template.Library()


@register.simple_tag
def evaluate_results(job):
    return _evaluate_results(job)
