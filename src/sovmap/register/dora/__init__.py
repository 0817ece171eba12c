"""The DORA register of information: EBA rules as data, the package as filed, export and
import (see docs/register.md)."""
