// The header's page menu (a <details>): a click anywhere outside it closes it, as menus do.
document.addEventListener('click', (event) => {
    const menu = document.getElementById('page-menu');
    if (menu && menu.open && !menu.contains(event.target)) {
        menu.open = false;
    }
});
