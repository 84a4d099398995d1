/** Asks before a change (a move, a release, a skip): a modal dialog, Escape or Cancel declines. */
export function confirmAction(title: string, text: string, action: string): Promise<boolean> {
  const dialog = document.getElementById('confirm') as HTMLDialogElement;
  const yes = document.getElementById('confirm-yes') as HTMLButtonElement;
  const no = document.getElementById('confirm-no') as HTMLButtonElement;
  document.getElementById('confirm-title')!.textContent = title;
  document.getElementById('confirm-text')!.textContent = text;
  yes.textContent = action;
  return new Promise((resolve) => {
    const done = (answer: boolean) => {
      yes.removeEventListener('click', onYes);
      no.removeEventListener('click', onNo);
      dialog.removeEventListener('close', onNo);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onYes = () => done(true);
    const onNo = () => done(false);
    yes.addEventListener('click', onYes);
    no.addEventListener('click', onNo);
    dialog.addEventListener('close', onNo);
    dialog.showModal();
    // The safe choice has focus, so a stray Enter does not confirm.
    no.focus();
  });
}
