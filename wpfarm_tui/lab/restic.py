"""The lab's local restic repository (the lab shows backups working, not the offsite copy)."""

from __future__ import annotations

import os
import subprocess

from wpfarm_tui.lab.base import LabBase, LabError, Progress


class ResticMixin(LabBase):
    def _restic_repo(self, say: Progress) -> bool:
        """A local restic repository for the lab's backups (init once: ~3 s of key derivation).
        True when it was created now."""
        if (self.restic_repository / "config").exists():
            return False
        env = dict(os.environ, RESTIC_PASSWORD_FILE=str(self._secret_path("restic_password")))
        self._secret("restic_password")
        out = subprocess.run([self._bin("restic"), "-r", str(self.restic_repository), "init"],
                             env=env, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise LabError(f"restic init of {self.restic_repository} failed: "
                           f"{out.stderr.strip()[-300:]}")
        say(f"restic: repository {self.restic_repository} created")
        return True
