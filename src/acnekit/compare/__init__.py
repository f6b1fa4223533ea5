"""Compare two visits of one face: register the photos (`register`), match the lesions
one-to-one (`match`), summarise the change (`core`), draw and report it (`report`)."""

from acnekit.compare.core import Comparison, compare_photos
from acnekit.compare.match import compare_lesions, match_circles
from acnekit.compare.register import Registration, RegistrationError, register

__all__ = ["Comparison", "compare_photos", "compare_lesions", "match_circles", "Registration", "RegistrationError",
           "register"]
